/**
 * A small uPlot line chart with a changing set of series (pins, layers, forks): it is rebuilt
 * when the series change and only fed new data otherwise. Linear or log y axis.
 */

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "../dom";
import { formatFixed, formatInt } from "../i18n";
import { axisStyle, logTick, remPx, xTickSpace } from "./charts";

export interface LineSeries {
  label: string;
  color: string;
  width?: number;
  dash?: number[];
  points?: boolean;
}

export interface LineChartOptions {
  testid: string;
  xLabel: () => string;
  yLabel: () => string;
  log?: boolean;
  /** A fixed y range (linear axis only), e.g. [0, 1] for an accuracy. */
  yRange?: [number, number];
  /** How y values read on the axis and in the legend (default: a few decimals). */
  yFormat?: (v: number) => string;
  /** Plot height in rem (the legend goes under it). */
  height?: number;
}

/** Powers of ten between the scale's ends, at most about six of them. */
function decades(u: uPlot, axis: number): number[] {
  const scale = u.scales[u.axes[axis]?.scale ?? "y"];
  const lo = Math.floor(Math.log10(scale?.min ?? 1e-9));
  const hi = Math.ceil(Math.log10(scale?.max ?? 1));
  const every = Math.max(1, Math.ceil((hi - lo) / 6));
  const out: number[] = [];
  for (let e = lo; e <= hi; e += every) out.push(10 ** e);
  return out;
}

function valueText(v: number | null): string {
  if (v == null) return "";
  return Math.abs(v) < 0.01 || Math.abs(v) >= 1e4 ? v.toExponential(2) : formatFixed(v, 3);
}

export class LineChart {
  readonly el: HTMLElement;
  private chart: uPlot | null = null;
  private signature = "";
  private rem = 0;

  constructor(private readonly options: LineChartOptions) {
    this.el = h("div", { class: "line-chart", testid: options.testid });
    new ResizeObserver(() => {
      // Hidden (another tab): keep the last size until shown again.
      if (!this.chart || this.el.clientWidth === 0) return;
      if (remPx() !== this.rem) this.reset();
      else this.chart.setSize(this.size());
    }).observe(this.el);
  }

  private size(): { width: number; height: number } {
    return {
      width: this.el.clientWidth,
      height: Math.round(this.rem * (this.options.height ?? 13)),
    };
  }

  /** Draw `data` ([x, y1, y2, …], aligned) with one entry of `series` per y. */
  setData(series: LineSeries[], data: uPlot.AlignedData): void {
    const signature = JSON.stringify(series);
    if (!this.chart || signature !== this.signature || remPx() !== this.rem) {
      if (this.el.clientWidth === 0) return;
      this.build(series);
      this.signature = signature;
    }
    this.chart!.setData(data);
  }

  private build(series: LineSeries[]): void {
    this.chart?.destroy();
    this.rem = remPx();
    const axis = axisStyle(this.rem);
    const log = this.options.log ?? false;
    const range = this.options.yRange;
    const yFormat = this.options.yFormat;
    const yScale: uPlot.Scale = log
      ? { distr: 3, log: 10 }
      : range
        ? { auto: false, range: () => range }
        : {};
    this.chart = new uPlot(
      {
        ...this.size(),
        scales: { x: { time: false }, y: yScale },
        cursor: { drag: { x: false, y: false } },
        legend: { live: true },
        axes: [
          {
            ...axis,
            label: this.options.xLabel(),
            size: this.rem * 2.6,
            space: xTickSpace(this.rem),
          },
          {
            ...axis,
            label: this.options.yLabel(),
            size: this.rem * 3.6,
            // Decades only: a log axis with every 2…9 gridline is noise on a projector.
            ...(log && { splits: decades }),
            values: (_u, ticks: (number | null)[]) =>
              ticks.map((v) =>
                log
                  ? logTick(v)
                  : v == null
                    ? ""
                    : yFormat
                      ? yFormat(v)
                      : formatFixed(v, Math.abs(v) < 10 ? 1 : 0),
              ),
          },
        ],
        series: [
          { label: this.options.xLabel(), value: (_u, v) => (v == null ? "" : formatInt(v)) },
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: s.width ?? 2,
            dash: s.dash,
            spanGaps: true,
            value: (_u: uPlot, v: number | null) =>
              v != null && yFormat ? yFormat(v) : valueText(v),
            points: s.points
              ? { show: true, size: 6, fill: s.color, stroke: s.color }
              : { show: false },
          })),
        ],
      },
      [[], ...series.map(() => [])],
      this.el,
    );
  }

  reset(): void {
    this.chart?.destroy();
    this.chart = null;
    this.signature = "";
  }
}
