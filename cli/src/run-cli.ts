import { CliUsageError, type CliIo, type Command } from './cli-io.js';

/** Command words → implementation. Each command lives in commands/ and does its own flag parsing. */
const commands: Record<string, { usage: string; load: () => Promise<Command> }> = {
  'ima verify': { usage: 'ima verify --log FILE --policy FILE [--pcr10 HEX [--bank sha1|sha256]] [--json] [--ascii] [--template-hash sha1|sha256] [--ignore-violations]   verify an IMA log against a Keylime runtime policy', load: async () => (await import('./commands/ima.js')).imaVerify },
  'ima policy create': { usage: 'ima policy create --log FILE [--verification-key FILE[,FILE]] [--ascii] [--template-hash sha1|sha256]   print a Keylime runtime policy allowing a known-good IMA log (and files signed by the keys)', load: async () => (await import('./commands/ima.js')).imaPolicyCreate },
  'ima policy pack': { usage: 'ima policy pack --policy FILE --name NAME --namespace NS [--key KEY]   print the ConfigMaps (gzip, split under 1 MiB) holding a runtime policy of any size', load: async () => (await import('./commands/ima.js')).imaPolicyPack },
  'verify-quote': { usage: 'verify-quote --ak-pub FILE --message FILE --signature FILE --pcrs FILE [--nonce HEX] [--json]   verify a tpm2_quote against an AK and PCR values (freshness only with --nonce)', load: async () => (await import('./commands/verify-quote.js')).verifyQuoteCommand },
  'eventlog': { usage: 'eventlog FILE [--json]      print a TCG event log\'s events and replayed PCRs', load: async () => (await import('./commands/eventlog.js')).eventlog },
};

export function usage(): string {
  const lines = Object.values(commands).map((c) => `  ${c.usage}`);
  return ['Usage: nodeward <command> [flags]', '', 'Commands:', ...lines, '', 'Exit status: 0 verified, 1 rejected, 2 usage error or unreadable input.'].join('\n');
}

/** Longest command-word match, so `ima policy create` wins over `ima`. */
function findCommand(argv: string[]): { name: string; rest: string[] } | undefined {
  for (let n = Math.min(3, argv.length); n > 0; n--) {
    const name = argv.slice(0, n).join(' ');
    if (commands[name]) return { name, rest: argv.slice(n) };
  }
  return undefined;
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.out(usage());
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(argv);
  if (!found) {
    io.err(`nodeward: unknown command: ${argv.join(' ')}\n\n${usage()}`);
    return 2;
  }
  try {
    const command = await commands[found.name]!.load();
    return await command(found.rest, io);
  } catch (e) {
    if (e instanceof CliUsageError) {
      io.err(`nodeward ${found.name}: ${e.message}`);
      return 2;
    }
    // Fail closed without a stack trace: an unexpected error is a rejection we cannot explain better.
    io.err(`nodeward ${found.name}: internal error: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
}
