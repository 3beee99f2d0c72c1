/**
 * Fictional logo classes rendered with sharp from generated SVG. Each class owns a distinctive
 * shape, palette and short text, so a detector that learns from pixels can tell them apart; the
 * variations (scale, position, rotation, background, noise, format) keep the task from being trivial.
 */
import sharp from "sharp";
import { createRandom, type Random } from "./prng";

export type LogoShape = "triangle" | "circle" | "square" | "diamond" | "hexagon" | "star" | "ring";

export interface LogoSpec {
  /** The label a reviewer would pick, also the folder name in the labeled data set. */
  label: string;
  text: string;
  shape: LogoShape;
  /** Main fill of the shape. */
  primary: string;
  /** Inner detail (band, inset, stripe). */
  secondary: string;
  textColor: string;
}

/** The classes the demo model is trained on. */
export const KNOWN_LOGOS: readonly LogoSpec[] = [
  {
    label: "Acme",
    text: "Acme",
    shape: "triangle",
    primary: "#d62828",
    secondary: "#ffffff",
    textColor: "#ffffff",
  },
  {
    label: "Globex",
    text: "Globex",
    shape: "circle",
    primary: "#1d4ed8",
    secondary: "#93c5fd",
    textColor: "#ffffff",
  },
  {
    label: "Initech",
    text: "Initech",
    shape: "square",
    primary: "#15803d",
    secondary: "#064e3b",
    textColor: "#ffffff",
  },
  {
    label: "Umbrella",
    text: "Umbrella",
    shape: "diamond",
    primary: "#facc15",
    secondary: "#111111",
    textColor: "#111111",
  },
  {
    label: "Hooli",
    text: "Hooli",
    shape: "hexagon",
    primary: "#7e22ce",
    secondary: "#e9d5ff",
    textColor: "#ffffff",
  },
];

/** Classes the seed set never contains: the detector must not be confident about them. */
export const UNSEEN_LOGOS: readonly LogoSpec[] = [
  {
    label: "Stark",
    text: "Stark",
    shape: "star",
    primary: "#f97316",
    secondary: "#7c2d12",
    textColor: "#ffffff",
  },
];

/**
 * "None of the Above" examples: a near miss (Acme's red on Globex's round shape) that a colour-led
 * detector confuses with Acme until reviewers' rejections teach it otherwise.
 */
export const NEGATIVE_LOGOS: readonly LogoSpec[] = [
  {
    label: "Vandelay",
    text: "Vandelay",
    shape: "circle",
    primary: "#cc2222",
    secondary: "#ffffff",
    textColor: "#ffffff",
  },
];

/** "normal" looks like a clean upload; "hard" is small, tilted, noisy, on a busy background. */
export type Variation = "normal" | "hard";

export interface RenderedLogo {
  body: Buffer;
  format: "png" | "jpeg";
  width: number;
  height: number;
  /** Where the logo is, for object-detection manifests. */
  box: PixelBox;
}

const SHAPES: Record<LogoShape, (spec: LogoSpec) => string> = {
  triangle: (s) =>
    `<polygon points="0,-52 54,42 -54,42" fill="${s.primary}"/><polygon points="0,-40 13,-16 -13,-16" fill="${s.secondary}"/>`,
  circle: (s) =>
    `<circle r="50" fill="${s.primary}"/><rect x="-50" y="-30" width="100" height="10" fill="${s.secondary}"/>`,
  square: (s) =>
    `<rect x="-48" y="-48" width="96" height="96" fill="${s.primary}"/><rect x="-30" y="-40" width="60" height="22" fill="${s.secondary}"/>`,
  diamond: (s) =>
    `<polygon points="0,-56 56,0 0,56 -56,0" fill="${s.primary}" stroke="${s.secondary}" stroke-width="6"/>`,
  hexagon: (s) =>
    `<polygon points="50,0 25,-43 -25,-43 -50,0 -25,43 25,43" fill="${s.primary}"/><polygon points="0,-34 12,-22 0,-10 -12,-22" fill="${s.secondary}"/>`,
  star: (s) =>
    `<polygon points="0,-55 13,-18 52,-17 21,7 32,45 0,22 -32,45 -21,7 -52,-17 -13,-18" fill="${s.primary}" stroke="${s.secondary}" stroke-width="3"/>`,
  ring: (s) =>
    `<circle r="44" fill="none" stroke="${s.primary}" stroke-width="16"/><circle r="22" fill="${s.secondary}"/>`,
};

function hsl(h: number, s: number, l: number): string {
  return `hsl(${h.toFixed(1)},${s.toFixed(1)}%,${l.toFixed(1)}%)`;
}

function background(random: Random, variation: Variation, width: number, height: number): string {
  const pastel = () => hsl(random.uniform(0, 360), random.uniform(5, 35), random.uniform(82, 97));
  const busy = () => hsl(random.uniform(0, 360), random.uniform(20, 70), random.uniform(25, 75));
  const color = variation === "hard" ? busy : pastel;
  if (random.next() < 0.55) return `<rect width="${width}" height="${height}" fill="${color()}"/>`;
  const angle = random.uniform(0, 360);
  return `<defs><linearGradient id="bg" gradientTransform="rotate(${angle.toFixed(1)} 0.5 0.5)"><stop offset="0" stop-color="${color()}"/><stop offset="1" stop-color="${color()}"/></linearGradient></defs><rect width="${width}" height="${height}" fill="url(#bg)"/>`;
}

/** Points on each shape's outline (SVG units, before transform), for the ground-truth bounding box. */
const circle = (r: number): [number, number][] =>
  Array.from({ length: 32 }, (_, i) => [r * Math.cos((i * Math.PI) / 16), r * Math.sin((i * Math.PI) / 16)]);
const OUTLINES: Record<LogoShape, [number, number][]> = {
  triangle: [
    [0, -52],
    [54, 42],
    [-54, 42],
  ],
  circle: circle(50),
  square: [
    [-48, -48],
    [48, -48],
    [48, 48],
    [-48, 48],
  ],
  diamond: [
    [0, -59],
    [59, 0],
    [0, 59],
    [-59, 0],
  ],
  hexagon: [
    [50, 0],
    [25, -43],
    [-25, -43],
    [-50, 0],
    [-25, 43],
    [25, 43],
  ],
  star: [
    [0, -57],
    [54, -17],
    [33, 47],
    [-33, 47],
    [-54, -17],
  ],
  ring: circle(52),
};

/** A logo's axis-aligned bounding box in pixels. */
export interface PixelBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Builds the SVG for one rendering and the logo's bounding box in pixels. */
export function logoSvg(
  spec: LogoSpec,
  variation: Variation,
  random: Random,
  width: number,
  height: number,
): { svg: string; box: PixelBox } {
  const side = Math.min(width, height);
  const hard = variation === "hard";
  const scale = (side / 120) * (hard ? random.uniform(0.35, 0.6) : random.uniform(0.6, 0.95));
  const extent = 60 * scale;
  const cx = width / 2 + random.uniform(-1, 1) * Math.max(0, width / 2 - extent);
  const cy = height / 2 + random.uniform(-1, 1) * Math.max(0, height / 2 - extent);
  const rotation = hard ? random.uniform(-45, 45) : random.uniform(-15, 15);
  const opacity = hard ? random.uniform(0.7, 0.9) : 1;
  const fontSize = Math.max(9, Math.min(22, 120 / spec.text.length));
  const text = `<text x="0" y="${(fontSize / 3).toFixed(1)}" font-family="sans-serif" font-weight="bold" font-size="${fontSize.toFixed(1)}" text-anchor="middle" fill="${spec.textColor}">${spec.text}</text>`;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    background(random, variation, width, height) +
    `<g opacity="${opacity.toFixed(2)}" transform="translate(${cx.toFixed(1)} ${cy.toFixed(1)}) rotate(${rotation.toFixed(1)}) scale(${scale.toFixed(3)})">` +
    SHAPES[spec.shape](spec) +
    text +
    "</g></svg>";
  const angle = (rotation * Math.PI) / 180;
  const xs: number[] = [];
  const ys: number[] = [];
  for (const [x, y] of OUTLINES[spec.shape]) {
    xs.push(cx + scale * (x * Math.cos(angle) - y * Math.sin(angle)));
    ys.push(cy + scale * (x * Math.sin(angle) + y * Math.cos(angle)));
  }
  const left = Math.max(0, Math.floor(Math.min(...xs)));
  const top = Math.max(0, Math.floor(Math.min(...ys)));
  const right = Math.min(width, Math.ceil(Math.max(...xs)));
  const bottom = Math.min(height, Math.ceil(Math.max(...ys)));
  return { svg, box: { left, top, width: right - left, height: bottom - top } };
}

/**
 * Renders one deterministic image of a logo: the same spec, variation and seed give the same bytes.
 */
export async function renderLogo(spec: LogoSpec, variation: Variation, seed: number): Promise<RenderedLogo> {
  const random = createRandom(seed);
  const width = random.int(96, 224);
  // Aspect up to 3:2 either way keeps the images well inside Custom Labels' 20:1 limit.
  const height = Math.round(width * random.uniform(0.67, 1.5));
  const { svg, box } = logoSvg(spec, variation, random, width, height);
  const { data, info } = await sharp(Buffer.from(svg))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const sigma = variation === "hard" ? random.uniform(10, 22) : random.uniform(0, 6);
  if (sigma > 0) {
    for (let i = 0; i < data.length; i++) {
      data[i] = Math.max(0, Math.min(255, Math.round((data[i] ?? 0) + sigma * random.gaussian())));
    }
  }
  const raw = sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } });
  const format = random.next() < 0.5 ? "png" : "jpeg";
  const body =
    format === "png"
      ? await raw.png().toBuffer()
      : await raw
          .jpeg({ quality: variation === "hard" ? random.int(40, 60) : random.int(70, 95) })
          .toBuffer();
  return { body, format, width: info.width, height: info.height, box };
}
