// The analytic views beside the journey map, in menu order. Each is a module
// exporting `view`:
//
//   export const view = {
//     id: 'drivers',                 // in the URL: ?view=drivers
//     title: 'Critical touchpoints', // the menu entry and section heading
//     // Draws into `section` (emptied by the view itself as it likes) for
//     // ctx = {key, journey, range: {start, end}, signal, get(path, params),
//     //        openTouchpoint(key)}; called when the view is shown and when
//     // the journey or range changes. Throws ApiError (api.js) on failure.
//     async render(section, ctx) { … },
//   };
//
// Add a view by importing its module here and appending it.
import { view as funnelView } from './funnels.js';

export const VIEWS = [];

import { view as drivers } from './drivers.js';

VIEWS.push(drivers);
VIEWS.push(funnelView);  // Funnel and paths (docs/funnels.md)
