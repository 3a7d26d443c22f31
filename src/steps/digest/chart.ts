/**
 * The digest's chart as a PNG, drawn on the server without a browser: echarts
 * builds the SVG string in its SSR mode (zero-dependency since 5.3,
 * apache/echarts#15880; echarts.apache.org/handbook/en/how-to/cross-platform/server/),
 * and resvg turns it into pixels. resvg draws no text without fonts
 * (linebender/resvg#893), so it is handed the bundled DejaVu Sans and told not
 * to look for system fonts (thx/resvg-js#209): the PNG is the same on every
 * machine. Also the text fallback, Unicode bars, for where no image can go.
 */
import { createRequire } from 'node:module';
import { Resvg } from '@resvg/resvg-js';
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TitleComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, TitleComponent, SVGRenderer]);

const FONT_FILE = createRequire(import.meta.url).resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf');
const FONT_FAMILY = 'DejaVu Sans';
export const CHART_WIDTH_PX = 800;
export const CHART_HEIGHT_PX = 400;
/** Outcome colours: green, red, grey; the median line in blue. */
const COLOURS = { approved: '#2e7d32', rejected: '#c62828', expired: '#9e9e9e', median: '#1565c0' };

/** One day of the chart. */
export interface ChartDay {
  day: string;
  approved: number;
  rejected: number;
  expired: number;
  medianS: number | null;
}

/** The chart's SVG: stacked bars of decisions per day by outcome, the day's median time to decision as a line (minutes, right axis). */
export function chartSvg(days: readonly ChartDay[], title: string): string {
  const chart = echarts.init(null, null, {
    renderer: 'svg',
    ssr: true,
    width: CHART_WIDTH_PX,
    height: CHART_HEIGHT_PX,
  });
  const bar = (name: keyof typeof COLOURS, data: number[]) => ({
    name,
    type: 'bar' as const,
    stack: 'decided',
    data,
    itemStyle: { color: COLOURS[name] },
  });
  chart.setOption({
    animation: false,
    backgroundColor: '#ffffff',
    textStyle: { fontFamily: FONT_FAMILY },
    title: { text: title, left: 'center', textStyle: { fontSize: 15 } },
    legend: { bottom: 0, data: ['approved', 'rejected', 'expired', 'median minutes to decision'] },
    grid: { left: 50, right: 60, top: 45, bottom: 60 },
    xAxis: { type: 'category', data: days.map((d) => d.day.slice(5)) },
    yAxis: [
      { type: 'value', name: 'decisions', minInterval: 1 },
      { type: 'value', name: 'minutes', position: 'right' },
    ],
    series: [
      bar(
        'approved',
        days.map((d) => d.approved),
      ),
      bar(
        'rejected',
        days.map((d) => d.rejected),
      ),
      bar(
        'expired',
        days.map((d) => d.expired),
      ),
      {
        name: 'median minutes to decision',
        type: 'line',
        yAxisIndex: 1,
        connectNulls: true,
        itemStyle: { color: COLOURS.median },
        data: days.map((d) => (d.medianS === null ? null : Math.round(d.medianS / 6) / 10)),
      },
    ],
  });
  const svg = chart.renderToSVGString();
  chart.dispose();
  return svg;
}

/** The chart as PNG bytes. */
export function chartPng(days: readonly ChartDay[], title: string): Buffer {
  const resvg = new Resvg(chartSvg(days, title), {
    font: { fontFiles: [FONT_FILE], loadSystemFonts: false, defaultFontFamily: FONT_FAMILY },
    fitTo: { mode: 'width', value: CHART_WIDTH_PX },
  });
  return resvg.render().asPng();
}

const BAR_CHARS = 20;

/** The chart in text: one line per day, a bar of █ scaled to the busiest day, the counts and the median. */
export function chartText(days: readonly ChartDay[], formatSeconds: (s: number) => string): string {
  const most = Math.max(1, ...days.map((d) => d.approved + d.rejected + d.expired));
  return days
    .map((d) => {
      const total = d.approved + d.rejected + d.expired;
      const bar = '█'.repeat(Math.round((total / most) * BAR_CHARS)) || '·';
      const median = d.medianS === null ? '' : `, median ${formatSeconds(d.medianS)}`;
      return `${d.day.slice(5)} ${bar.padEnd(BAR_CHARS)} ${total} (${d.approved} approved, ${d.rejected} rejected, ${d.expired} expired${median})`;
    })
    .join('\n');
}
