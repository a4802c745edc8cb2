import { deflateSync } from 'node:zlib';

/** A tiny RGB raster and PNG encoder (8-bit truecolour, no filtering), enough for benchmark plots. */

export type Rgb = readonly [number, number, number];

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])));
  return Buffer.concat([head, data, crc]);
}

// 3×5 glyphs, rows top to bottom, '1' = ink.
const GLYPHS: Record<string, string> = {
  0: '111101101101111', 1: '010110010010111', 2: '111001111100111', 3: '111001111001111', 4: '101101111001001',
  5: '111100111001111', 6: '111100111101111', 7: '111001010010010', 8: '111101111101111', 9: '111101111001111',
  '.': '000000000000010', s: '000011010001110', ' ': '000000000000000', ',': '000000000010100', '/': '001001010100100',
  k: '100101110101101', '-': '000000111000000',
  n: '000110101101101', o: '000111101101111', d: '001001111101111', e: '000111111100111', u: '000101101101111',
};

export class Canvas {
  private readonly px: Buffer;

  constructor(readonly width: number, readonly height: number, background: Rgb = [255, 255, 255]) {
    this.px = Buffer.alloc(width * height * 3);
    for (let i = 0; i < width * height; i++) this.px.set(background, i * 3);
  }

  rect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let yy = Math.max(0, Math.round(y)); yy < Math.min(this.height, Math.round(y + h)); yy++) {
      for (let xx = Math.max(0, Math.round(x)); xx < Math.min(this.width, Math.round(x + w)); xx++) this.px.set(c, (yy * this.width + xx) * 3);
    }
  }

  /** Text in the 3×5 font, `scale` pixels per dot; unknown characters are skipped. */
  text(x: number, y: number, s: string, c: Rgb, scale = 2): void {
    [...s].forEach((ch, i) => {
      const g = GLYPHS[ch] ?? '';
      for (let d = 0; d < g.length; d++) if (g[d] === '1') this.rect(x + (i * 4 + (d % 3)) * scale, y + Math.floor(d / 3) * scale, scale, scale, c);
    });
  }

  png(): Buffer {
    const rows = Buffer.alloc((this.width * 3 + 1) * this.height);
    for (let y = 0; y < this.height; y++) this.px.copy(rows, y * (this.width * 3 + 1) + 1, y * this.width * 3, (y + 1) * this.width * 3);
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(this.width, 0);
    ihdr.writeUInt32BE(this.height, 4);
    ihdr.set([8, 2, 0, 0, 0], 8);
    return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
  }
}
