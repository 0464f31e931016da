"""The analysts' dashboard: the query API's reports as charts and tables, in three languages.

- :mod:`projections.dashboard.catalogue`: the one message catalogue (``messages.json``);
- :mod:`projections.dashboard.view`: the dashboard document of a zone, period and scope (pure);
- :mod:`projections.dashboard.routes`: the page, its static files and ``/v1/dashboard/{zone}``.

The page (``static/``) is plain HTML, CSS and JavaScript with Apache ECharts vendored
beside it (``static/vendor/echarts``): no CDN, no build chain.
"""
