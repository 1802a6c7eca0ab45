/** A small SVG line of a probability over a text, one point per character, 0.5 dashed. */

const SVG = "http://www.w3.org/2000/svg";

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  return el;
}

/**
 * `values` (0..1) drawn left to right over a fixed-size box that stretches to its container:
 * the upper half tinted for "above 0.5", the lower for "below".
 */
export function sparkline(values: number[], color: string): SVGSVGElement {
  const root = svg("svg", {
    class: "sparkline",
    viewBox: "0 0 100 100",
    preserveAspectRatio: "none",
    "aria-hidden": "true",
  });
  root.append(
    svg("rect", { class: "spark-above", x: 0, y: 0, width: 100, height: 50 }),
    svg("rect", { class: "spark-below", x: 0, y: 50, width: 100, height: 50 }),
    svg("line", { class: "spark-mid", x1: 0, y1: 50, x2: 100, y2: 50 }),
  );
  const n = values.length;
  if (n === 0) return root;
  const x = (i: number): number => (n === 1 ? 50 : (100 * i) / (n - 1));
  const y = (v: number): number => 100 * (1 - Math.min(1, Math.max(0, v)));
  const points = values.map((v, i) => `${x(i).toFixed(2)},${y(v).toFixed(2)}`).join(" ");
  root.append(svg("polyline", { class: "spark-line", points, stroke: color }));
  return root;
}

/** The index of the value under a pointer at `clientX` over a sparkline of `n` values. */
export function indexAt(el: Element, clientX: number, n: number): number {
  const box = el.getBoundingClientRect();
  const f = box.width > 0 ? (clientX - box.left) / box.width : 0;
  return Math.min(n - 1, Math.max(0, Math.round(f * (n - 1))));
}
