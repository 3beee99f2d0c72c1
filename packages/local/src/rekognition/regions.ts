/**
 * Region proposals for object-detection models: where in an image is something that is not
 * background? Pure, on the decoded grid. The background is whatever colours the image's border has
 * (a solid colour or a gradient both show up there); connected blobs of other colours are regions.
 */
import type { Pixels } from "./features";

/** A box as ratios of the image's width and height, like Rekognition's BoundingBox. */
export interface RatioBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** RGB distance beyond which a pixel does not look like any border colour (noise stays well below). */
const FOREGROUND_DISTANCE = 60;
/** Blobs smaller than this share of the image are specks, not objects. */
const MIN_AREA_SHARE = 0.015;
const MAX_REGIONS = 5;

/** Finds up to five object regions, largest first; the whole image when nothing stands out. */
export function proposeRegions(pixels: Pixels): RatioBox[] {
  const { width, height, data } = pixels;
  const color = (i: number): [number, number, number] => [
    data[i * 3] ?? 0,
    data[i * 3 + 1] ?? 0,
    data[i * 3 + 2] ?? 0,
  ];
  const border: [number, number, number][] = [];
  for (let x = 0; x < width; x++) border.push(color(x), color((height - 1) * width + x));
  for (let y = 1; y < height - 1; y++) border.push(color(y * width), color(y * width + width - 1));

  const foreground = new Uint8Array(width * height);
  const limit = FOREGROUND_DISTANCE ** 2;
  for (let i = 0; i < width * height; i++) {
    const [r, g, b] = color(i);
    let nearest = Number.POSITIVE_INFINITY;
    for (const [br, bg, bb] of border) {
      const d = (r - br) ** 2 + (g - bg) ** 2 + (b - bb) ** 2;
      if (d < nearest) nearest = d;
      if (nearest <= limit) break;
    }
    if (nearest > limit) foreground[i] = 1;
  }

  // One dilation joins a logo's pieces (shape, inner detail, text) into one blob.
  const grown = new Uint8Array(foreground);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!foreground[y * width + x]) continue;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx >= 0 && ny >= 0 && nx < width && ny < height) grown[ny * width + nx] = 1;
        }
      }
    }
  }

  const seen = new Uint8Array(width * height);
  const blobs: { area: number; minX: number; minY: number; maxX: number; maxY: number }[] = [];
  for (let start = 0; start < width * height; start++) {
    if (!grown[start] || seen[start]) continue;
    const blob = { area: 0, minX: width, minY: height, maxX: 0, maxY: 0 };
    const stack = [start];
    seen[start] = 1;
    while (stack.length > 0) {
      const i = stack.pop() as number;
      const x = i % width;
      const y = Math.floor(i / width);
      blob.area++;
      blob.minX = Math.min(blob.minX, x);
      blob.maxX = Math.max(blob.maxX, x);
      blob.minY = Math.min(blob.minY, y);
      blob.maxY = Math.max(blob.maxY, y);
      for (const [dx, dy] of [
        [1, 0],
        [-1, 0],
        [0, 1],
        [0, -1],
      ] as const) {
        const nx = x + dx;
        const ny = y + dy;
        const n = ny * width + nx;
        if (nx >= 0 && ny >= 0 && nx < width && ny < height && grown[n] && !seen[n]) {
          seen[n] = 1;
          stack.push(n);
        }
      }
    }
    if (blob.area >= MIN_AREA_SHARE * width * height) blobs.push(blob);
  }
  if (blobs.length === 0) return [{ left: 0, top: 0, width: 1, height: 1 }];
  return blobs
    .sort((a, b) => b.area - a.area)
    .slice(0, MAX_REGIONS)
    .map((b) => ({
      left: b.minX / width,
      top: b.minY / height,
      width: (b.maxX - b.minX + 1) / width,
      height: (b.maxY - b.minY + 1) / height,
    }));
}

/** Intersection over union of two boxes in the same units. */
export function intersectionOverUnion(a: RatioBox, b: RatioBox): number {
  const w = Math.max(0, Math.min(a.left + a.width, b.left + b.width) - Math.max(a.left, b.left));
  const h = Math.max(0, Math.min(a.top + a.height, b.top + b.height) - Math.max(a.top, b.top));
  const inter = w * h;
  const union = a.width * a.height + b.width * b.height - inter;
  return union <= 0 ? 0 : inter / union;
}
