"""The drill console: a facilitator's web application that team labs join (README "Team drills").

One process serves a JSON API (Bearer tokens) and a few server-rendered pages (a session
cookie set by ``/login?token=...``) from one SQLite database in the drill home:

- :mod:`lab.drill.tokens`: random tokens, their hashes, and the bad-token rate limiter;
- :mod:`lab.drill.store`: the database (drill, teams, journals, commands, hints, reports);
- :mod:`lab.drill.console`: the store and scenario behind every route, and who a request is;
- :mod:`lab.drill.progress`: what a team's journal says (day, alerts, actions, times to detect and act);
- :mod:`lab.drill.debrief`: the answer key revealed after the drill ends, per team;
- :mod:`lab.drill.svg`: timelines and the score chart as SVG text;
- :mod:`lab.drill.api`: the Starlette application (API routes);
- :mod:`lab.drill.pages`: the HTML pages (Jinja2, autoescaped, strict CSP).
"""
