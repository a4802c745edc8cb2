"""Times Keylime's own verifier logic on evidence Nodeward's benchmark generated.

Usage:
  keylime_bench.py ima ASCII_LOG POLICY_JSON PCR10_SHA1_HEX ROUNDS
  keylime_bench.py quote AK_PEM QUOTE_BIN SIG_BIN PCRBLOB_BIN NONCE_HEX HASH_ALG COUNT

Prints one JSON line: {"what": ..., "seconds": ..., "count": ..., "ok": ...}.
What is compared: keylime.ima.ima.process_measurement_list (policy check + PCR 10 replay of the
ASCII list, as the verifier runs it) and keylime.tpm.tpm_util.checkquote (signature, nonce, PCR
digest), called in-process so interpreter start-up is not counted.
"""
import json
import sys
import time
import types

# keylime.signing imports the gpg bindings at module level; only policy signature checks use them,
# which this benchmark does not exercise.
sys.modules.setdefault("gpg", types.ModuleType("gpg"))

from keylime.common import algorithms  # noqa: E402
from keylime.ima import ima  # noqa: E402
from keylime.tpm import tpm_util  # noqa: E402


def bench_ima(log_path, policy_path, pcr10, rounds):
    with open(log_path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    with open(policy_path, encoding="utf-8") as f:
        policy = ima.deserialize_runtime_policy(f.read())
    ok = True
    start = time.perf_counter()
    for _ in range(rounds):
        _, failure = ima.process_measurement_list(None, lines, policy, pcrval=pcr10, hash_alg=algorithms.Hash.SHA1)
        ok = ok and not failure.events
    return {"what": "keylime.ima.process_measurement_list", "seconds": time.perf_counter() - start,
            "count": rounds, "entries": len(lines), "ok": ok}


def bench_quote(ak_pem, quote, sig, pcrblob, nonce_hex, hash_alg, count):
    def read(p):
        with open(p, "rb") as f:
            return f.read()
    ak, q, s, p = read(ak_pem), read(quote), read(sig), read(pcrblob)
    nonce = bytes.fromhex(nonce_hex)
    start = time.perf_counter()
    for _ in range(count):
        tpm_util.checkquote(ak, nonce, s, q, p, hash_alg)
    return {"what": "keylime.tpm.tpm_util.checkquote", "seconds": time.perf_counter() - start, "count": count, "ok": True}


def main(argv):
    if len(argv) >= 5 and argv[0] == "ima":
        out = bench_ima(argv[1], argv[2], argv[3], int(argv[4]))
    elif len(argv) >= 8 and argv[0] == "quote":
        out = bench_quote(argv[1], argv[2], argv[3], argv[4], argv[5], argv[6], int(argv[7]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
