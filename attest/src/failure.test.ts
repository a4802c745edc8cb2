import { BOOTLOG_FAILURE_IDS, bootlogFailure } from './eventlog/bootlog-failure.js';
import { componentOf, failure, type Component } from './failure.js';
import { IMA_FAILURE_IDS } from './ima/ima-failure.js';
import { IDENTITY_FAILURE_IDS } from './tpm/identity-failure.js';
import { QUOTE_FAILURE_IDS } from './tpm/quote-failure.js';
import { VERITY_FAILURE_IDS } from './verity/verity-failure.js';

const TABLES: [Component, Readonly<Record<string, string>>][] = [
  ['quote', QUOTE_FAILURE_IDS], ['identity', IDENTITY_FAILURE_IDS], ['ima', IMA_FAILURE_IDS],
  ['bootlog', BOOTLOG_FAILURE_IDS], ['verity', VERITY_FAILURE_IDS],
];

describe('failure id tables', () => {
  it.each(TABLES)('%s: every id is `component.snake_case` and belongs to its component', (component, ids) => {
    for (const id of Object.values(ids)) {
      expect(id).toMatch(/^[a-z]+\.[a-z0-9_]+$/);
      expect(componentOf(id as never)).toBe(component);
    }
  });

  it('no id appears under two kinds', () => {
    const all = TABLES.flatMap(([, ids]) => Object.values(ids));
    expect(new Set(all).size).toBe(all.length);
  });

  it('a component factory names the kind and its id; failure() keeps the plain shape', () => {
    expect(bootlogFailure('Missing', 'no log', { at: 1 })).toEqual({ kind: 'Missing', id: 'bootlog.missing', message: 'no log', context: { at: 1 } });
    expect(failure('agent.unreachable', 'down')).toEqual({ id: 'agent.unreachable', message: 'down' });
  });
});
