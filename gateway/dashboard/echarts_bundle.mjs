// The dashboard's charting library: Apache ECharts with only the charts and
// components the views use, drawn as SVG (so the numbers are text in the
// page, for screen readers and the browser test). esbuild bundles this into
// /dashboard/vendor/echarts.js at build time (gateway/CMakeLists.txt); views
// load it through charts.js.
import * as echarts from 'echarts/core';
import {
  BarChart, CustomChart, FunnelChart, HeatmapChart, LineChart, SankeyChart, ScatterChart,
} from 'echarts/charts';
import {
  DatasetComponent, GridComponent, LegendComponent, MarkAreaComponent, MarkLineComponent,
  MarkPointComponent, TitleComponent, TooltipComponent, VisualMapComponent,
} from 'echarts/components';
import { LabelLayout } from 'echarts/features';
import { SVGRenderer } from 'echarts/renderers';

echarts.use([
  BarChart, CustomChart, FunnelChart, HeatmapChart, LineChart, SankeyChart, ScatterChart,
  DatasetComponent, GridComponent, LegendComponent, MarkAreaComponent, MarkLineComponent,
  MarkPointComponent, TitleComponent, TooltipComponent, VisualMapComponent, SVGRenderer,
  // Series' labelLayout (moving overlapping labels apart) needs it.
  LabelLayout,
]);

export { echarts };
