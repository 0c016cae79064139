// Charts of the analytic views, drawn by Apache ECharts (bundled at build
// time into /dashboard/vendor/echarts.js, loaded on first use so that the
// journey map does not wait for it). SVG output: every label and number is
// text in the page.
//
//   const chart = await drawChart(figure, { xAxis: …, yAxis: …, series: […] });

let library = null;

async function echarts() {
  library ??= import('./vendor/echarts.js').then((module) => module.echarts);
  return library;
}

// Draws `option` into `container` (replacing what was there) and returns
// the chart; the container needs a size (CSS).
export async function drawChart(container, option) {
  const lib = await echarts();
  const chart = lib.getInstanceByDom(container) ?? lib.init(container, null, { renderer: 'svg' });
  chart.setOption({ animation: false, ...option }, true);
  return chart;
}

// Forgets the chart in `container`, if any.
export async function disposeChart(container) {
  if (!library) return;
  (await echarts()).getInstanceByDom(container)?.dispose();
}
