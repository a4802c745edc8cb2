import { roundsByResult } from './enrollment.js';
import { parseExposition } from './prom.js';

describe('roundsByResult', () => {
  it('counts each result between the two scrapes, leaving out results that did not move and other metrics', () => {
    const before = parseExposition('nodeward_rounds_total{result="trusted"} 10\nnodeward_rounds_total{result="error"} 2\nnodeward_round_seconds_count 12\n');
    const after = parseExposition('nodeward_rounds_total{result="trusted"} 66\nnodeward_rounds_total{result="error"} 2\nnodeward_rounds_total{result="skipped"} 3\nnodeward_round_seconds_count 71\n');
    expect(roundsByResult(before, after)).toBe('trusted 56, skipped 3');
    expect(roundsByResult(after, after)).toBe('none');
  });
});
