"""Times Keylime's own verifier logic on evidence Nodeward's benchmark generated.

Usage:
  keylime_bench.py ima ASCII_LOG POLICY_JSON PCR10_SHA1_HEX ROUNDS
  keylime_bench.py quote AK_PEM QUOTE_BIN SIG_BIN PCRBLOB_BIN NONCE_HEX HASH_ALG COUNT
  keylime_bench.py round AK_PEM QUOTE_BIN SIG_BIN PCRBLOB_BIN NONCE_HEX HASH_ALG NEW_LINES POLICY_JSON \
                   STATE_PCR10_HEX STATE_COUNT COUNT
  keylime_bench.py verifier-round AK_TPM2B QUOTE_BIN SIG_BIN PCRBLOB_BIN NONCE_HEX HASH_ALG NEW_LINES POLICY_JSON \
                   STATE_PCR10_HEX STATE_COUNT COUNT

Prints one JSON line: {"what": ..., "seconds": ..., "count": ..., "ok": ...}.
What is compared: keylime.ima.ima.process_measurement_list (policy check + PCR 10 replay of the
ASCII list, as the verifier runs it) and keylime.tpm.tpm_util.checkquote (signature, nonce, PCR
digest), called in-process so interpreter start-up is not counted. A round is what the verifier does per poll
with incremental attestation: checkquote, then process_measurement_list of only the new entries
from an AgentAttestState restored to STATE_COUNT entries and PCR 10 = STATE_PCR10_HEX (HASH_ALG bank),
checked against the quoted PCR 10. A verifier-round is the same evidence through the entry point Keylime's
verifier calls for every quote it receives, keylime.tpm.tpm_main.Tpm.check_quote: the registrar's AK
(TPM2B_PUBLIC), the quote in the agent's wire form ("r<b64 TPMS_ATTEST>:<b64 TPMT_SIGNATURE>:<b64 PCR blob>"),
the clock check against the previous quote, then check_pcrs (PCR policy, IMA list from STATE_COUNT).
"""
import json
import logging
import sys
import time
import types

# keylime.signing imports the gpg bindings at module level; only policy signature checks use them,
# which this benchmark does not exercise.
sys.modules.setdefault("gpg", types.ModuleType("gpg"))

from keylime.agentstates import AgentAttestState  # noqa: E402
from keylime.common import algorithms  # noqa: E402
from keylime.ima import ima  # noqa: E402
from keylime.ima.file_signatures import ImaKeyring, ImaKeyrings  # noqa: E402
from keylime.tpm import tpm_util  # noqa: E402


def policy_keyrings(policy):
    """The keyrings Keylime's verifier passes for a policy with verification-keys (tpm_engine.py), else None."""
    if not policy.get("verification-keys"):
        return None
    keyrings = ImaKeyrings()
    keyrings.set_tenant_keyring(ImaKeyring.from_string(policy["verification-keys"]))
    return keyrings


def bench_ima(log_path, policy_path, pcr10, rounds):
    with open(log_path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    with open(policy_path, encoding="utf-8") as f:
        policy = ima.deserialize_runtime_policy(f.read())
    keyrings = policy_keyrings(policy)
    ok = True
    events = set()
    start = time.perf_counter()
    for _ in range(rounds):
        _, failure = ima.process_measurement_list(None, lines, policy, pcrval=pcr10, ima_keyrings=keyrings, hash_alg=algorithms.Hash.SHA1)
        ok = ok and not failure.events
        events.update(e.event_id for e in failure.events)
    return {"what": "keylime.ima.process_measurement_list", "seconds": time.perf_counter() - start,
            "count": rounds, "entries": len(lines), "ok": ok, "failures": sorted(events)}


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


def bench_round(args):
    ak_pem, quote, sig, pcrblob, nonce_hex, hash_alg, lines_path, policy_path, state_pcr, state_count, count = args

    def read(p):
        with open(p, "rb") as f:
            return f.read()
    ak, q, s, p = read(ak_pem), read(quote), read(sig), read(pcrblob)
    nonce = bytes.fromhex(nonce_hex)
    with open(lines_path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    with open(policy_path, encoding="utf-8") as f:
        policy = ima.deserialize_runtime_policy(f.read())
    alg = algorithms.Hash(hash_alg)
    ok = True
    start = time.perf_counter()
    for _ in range(int(count)):
        state = AgentAttestState("bench")
        state.update_ima_attestation(10, bytes.fromhex(state_pcr), int(state_count))
        pcrs = tpm_util.checkquote(ak, nonce, s, q, p, hash_alg)
        _, failure = ima.process_measurement_list(state, lines, policy, pcrval=pcrs[10], hash_alg=alg)
        ok = ok and not failure.events and state.get_next_ima_ml_entry() == int(state_count) + len(lines)
    return {"what": "keylime checkquote + incremental process_measurement_list", "seconds": time.perf_counter() - start,
            "count": int(count), "entries": len(lines), "ok": ok}


def bench_verifier_round(args):
    import base64

    from keylime.mba import mba
    from keylime.tpm.tpm_main import Tpm

    # As the verifier does at start-up (the default measured-boot parser; no boot log is sent here).
    mba.load_imports(skip_custom_policies=True)
    # check_quote logs several lines per quote (INFO, and a WARNING per quoted PCR its tpm_policy does not
    # list); count only the verification, as verifyRound does not log either.
    logging.disable(logging.WARNING)

    ak_tpm2b, quote, sig, pcrblob, nonce_hex, hash_alg, lines_path, policy_path, state_pcr, state_count, count = args

    def read(p):
        with open(p, "rb") as f:
            return f.read()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    ak, wire_quote = read(ak_tpm2b), "r" + ":".join(b64(read(p)) for p in (quote, sig, pcrblob))
    nonce = bytes.fromhex(nonce_hex)
    with open(lines_path, encoding="utf-8") as f:
        ima_list = f.read()
    with open(policy_path, encoding="utf-8") as f:
        policy = ima.deserialize_runtime_policy(f.read())
    alg = algorithms.Hash(hash_alg)
    tpm = Tpm()
    ok = True
    start = time.perf_counter()
    for _ in range(int(count)):
        state = AgentAttestState("bench")
        state.update_ima_attestation(10, bytes.fromhex(state_pcr), int(state_count))
        failure = tpm.check_quote(state, nonce, None, wire_quote, ak, {}, ima_list, policy, alg)
        ok = ok and not failure.events and state.get_next_ima_ml_entry() == int(state_count) + len(ima_list.splitlines())
    return {"what": "keylime Tpm.check_quote (verifier round)", "seconds": time.perf_counter() - start,
            "count": int(count), "ok": ok, "failures": sorted({e.event_id for e in failure.events})}


def main(argv):
    if len(argv) >= 5 and argv[0] == "ima":
        out = bench_ima(argv[1], argv[2], argv[3], int(argv[4]))
    elif len(argv) >= 8 and argv[0] == "quote":
        out = bench_quote(argv[1], argv[2], argv[3], argv[4], argv[5], argv[6], int(argv[7]))
    elif len(argv) >= 12 and argv[0] == "round":
        out = bench_round(argv[1:12])
    elif len(argv) >= 12 and argv[0] == "verifier-round":
        out = bench_verifier_round(argv[1:12])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
