// The analytic views beside the journey map, in menu order. Each is a module
// exporting `view`:
//
//   export const view = {
//     id: 'drivers',                 // in the URL: ?view=drivers
//     title: 'Critical touchpoints', // the menu entry and section heading
//     // Draws into `section` (emptied by the view itself as it likes) for
//     // ctx = {key, journey, range: {start, end}, signal, get(path, params),
//     //        openTouchpoint(key), touchpoint, chooseTouchpoint(key)};
//     // called when the view is shown and when the journey or range changes.
//     // Throws ApiError (api.js) on failure.
//     async render(section, ctx) { … },
//     // Optional: a view of one touchpoint (ctx.touchpoint, '' for all)
//     // gets a button with this text in a map touchpoint's panel.
//     touchpointAction: 'Pain points (comment themes)',
//   };
//
// Add a view by importing its module here and appending it.
import { view as funnelView } from './funnels.js';

export const VIEWS = [];

import { view as drivers } from './drivers.js';

VIEWS.push(drivers);
VIEWS.push(funnelView);  // Funnel and paths (docs/funnels.md)

import { view as themesView } from './themes.js';

VIEWS.push(themesView);  // Pain points: comment themes (docs/themes.md)

import { view as followupView } from './followup.js';

VIEWS.push(followupView);  // Follow-up: polku-cases' queue (docs/cases.md)
