"""The admin REST API under ``/admin``: the tenant, its users, roles, keys, sessions,
policy and audit, each route held to one permission of ``bastion.authz``."""

from bastion.gateway.admin.routes import ADMIN_ROUTES, AdminDeps, admin_router

__all__ = ["ADMIN_ROUTES", "AdminDeps", "admin_router"]
