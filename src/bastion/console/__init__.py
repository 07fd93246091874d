"""The web console under ``/console``: server-rendered pages (Jinja2, progressive
enhancement with a vendored htmx), served by the gateway itself, air-gapped, under a
strict Content Security Policy. Signed in through the tenant's SSO (a session cookie);
every page and action is authorized on the server against the caller's role."""

__all__: list[str] = []
