// The dutyhook console. Every page is a server-rendered shell; these modules
// fill #app by calling the Open API with the session cookie and its CSRF
// token. Text from the server is only ever set as text (h() in dom.js makes
// text nodes), never parsed as HTML.

import { app, PAGE } from './common.js';
import { h, notice, replace } from './dom.js';
import { incidentsPage } from './incidents.js';
import { incidentPage } from './incident.js';
import { integrationsPage } from './integrations.js';
import { historyPage } from './history.js';
import { directoryPage } from './directory.js';
import { alertsPage } from './alerts.js';

const PAGES = {
  incidents: incidentsPage, incident: incidentPage, alerts: alertsPage, integrations: integrationsPage,
  history: historyPage, directory: directoryPage,
};
// A page the server rendered stays readable until the script's replaces it.
if (!app.querySelector('[data-plain]')) replace(app, h('p', { class: 'hint' }, 'Loading…'));
(PAGES[PAGE] || (async () => {}))().catch((e) => replace(app, notice(e.message, 'error')));
