"""What tests/ and bench/ share: processes, ports, redis-server, logins and users.

- ports.py: free_port()
- processes.py: the repository ROOT, base_env(), run_python() and manage(), starting a server
  process until it listens and stopping it, and LiveServer (daphne serving the site)
- redis_server.py: RedisServer, a redis-server of our own (or a sentinel in front of one)
- accounts.py: the one PASSWORD, create_user(s) through manage.py shell, the in-process
  make_user(), and login() through the site's login form

Imported as `from tests.support.<module> import ...`; bench/ can, because `python -m bench`
runs from the repository root. Nothing here imports pytest or sets Django up.
"""
