/**
 * Draws the app icons (public/icons/*.png) with Node built-ins only: the picture is computed
 * per pixel (4×4 supersampling for smooth edges) and written by a small PNG encoder below
 * (zlib for IDAT, a hand-written CRC-32). Run: `npx tsx scripts/make-icons.ts`; commit the PNGs.
 *
 * The picture: LoRA's low-rank product — a tall bar (A) and a wide bar (B) whose product is the
 * square — in white on the app's theme blue. "any" icons have rounded corners and a transparent
 * outside; "maskable" icons are full-bleed with the picture inside the 80% safe circle.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';

/** The app's theme colour (index.html theme-color, the manifest's theme_color). */
export const THEME_RGB: readonly [number, number, number] = [0x2f, 0x5b, 0xd3];

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, crc = 0xffffffff): number {
  let c = crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, (crc32(out.subarray(4, 8 + data.length)) ^ 0xffffffff) >>> 0);
  return out;
}

/** An 8-bit RGBA PNG (colour type 6), no interlace, filter 0 on every row. */
export function encodePng(width: number, height: number, rgba: Uint8Array): Uint8Array {
  if (rgba.length !== width * height * 4) throw new Error('rgba size does not match width × height × 4');
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering (each row says its filter: 0 = none)
  ihdr[12] = 0; // no interlace
  const raw = new Uint8Array(height * (1 + width * 4));
  for (let y = 0; y < height; y++) {
    raw[y * (1 + width * 4)] = 0;
    raw.set(rgba.subarray(y * width * 4, (y + 1) * width * 4), y * (1 + width * 4) + 1);
  }
  const idat = new Uint8Array(deflateSync(raw, { level: 9 }));
  const signature = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const parts = [signature, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function inRect(x: number, y: number, x0: number, y0: number, x1: number, y1: number): boolean {
  return x >= x0 && x < x1 && y >= y0 && y < y1;
}

function inRoundedSquare(x: number, y: number, radius: number): boolean {
  const cx = Math.min(Math.max(x, radius), 1 - radius);
  const cy = Math.min(Math.max(y, radius), 1 - radius);
  return (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2;
}

/** The glyph's white coverage at (gx, gy) in its own unit box: A, B, and their product A·B. */
function glyph(gx: number, gy: number): number {
  if (inRect(gx, gy, 0.1, 0.3, 0.24, 0.9)) return 1; // A: tall and narrow
  if (inRect(gx, gy, 0.3, 0.1, 0.9, 0.24)) return 1; // B: wide and flat
  if (inRect(gx, gy, 0.3, 0.3, 0.9, 0.9)) return 0.55; // the full-size update they make
  return 0;
}

export function drawIcon(size: number, maskable: boolean): Uint8Array {
  const rgba = new Uint8Array(size * size * 4);
  const SS = 4;
  // Glyph box: inside the maskable safe zone (a centred circle of radius 0.4) for maskable icons.
  const inset = maskable ? 0.27 : 0.2;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let bg = 0;
      let white = 0;
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          const x = (px + (sx + 0.5) / SS) / size;
          const y = (py + (sy + 0.5) / SS) / size;
          const inside = maskable || inRoundedSquare(x, y, 0.22);
          if (!inside) continue;
          bg++;
          white += glyph((x - inset) / (1 - 2 * inset), (y - inset) / (1 - 2 * inset));
        }
      }
      const n = SS * SS;
      const alpha = bg / n;
      const w = bg > 0 ? white / bg : 0;
      const o = (py * size + px) * 4;
      for (let c = 0; c < 3; c++) rgba[o + c] = Math.round(THEME_RGB[c]! * (1 - w) + 255 * w);
      rgba[o + 3] = Math.round(alpha * 255);
    }
  }
  return rgba;
}

export const ICONS = [
  { file: 'icon-192.png', size: 192, maskable: false },
  { file: 'icon-512.png', size: 512, maskable: false },
  { file: 'maskable-192.png', size: 192, maskable: true },
  { file: 'maskable-512.png', size: 512, maskable: true },
] as const;

function main(): void {
  const dir = join(process.cwd(), 'public', 'icons');
  mkdirSync(dir, { recursive: true });
  for (const icon of ICONS) {
    const png = encodePng(icon.size, icon.size, drawIcon(icon.size, icon.maskable));
    writeFileSync(join(dir, icon.file), png);
    console.log(`${icon.file}: ${png.length} bytes`);
  }
}

if (process.argv[1] && /make-icons\.ts$/.test(process.argv[1])) main();
