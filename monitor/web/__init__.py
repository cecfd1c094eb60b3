"""The web console of dmn-monitor: server-rendered pages for the quality team.

``install_console(app, state)`` (:mod:`monitor.web.app`) adds its routes to the
service's FastAPI app: login with a user account, then the fleet, devices,
findings, case review, monthly sign-off and ingestion pages. Pages work without
JavaScript; the one script shipped (``static/console.js``) only follows the
progress of long work. Nothing is loaded from another origin.
"""
