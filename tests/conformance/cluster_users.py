"""The file-realm users of Elasticsearch's YAML test clusters, written into an engine's data
directory before it starts (as their cluster configuration adds them with `elasticsearch-users
useradd`)."""

from __future__ import annotations

from pathlib import Path

# some tests log in as them, and they survive the wipe of the security index between tests
TEST_CLUSTER_PASSWORD = "x-pack-test-password"
TEST_CLUSTER_USERS = {"get_alias_test_user": "superuser"}


def provision_file_users(data_dir: Path) -> None:
    """Write the test cluster's users into the engine's file realm (`config/users`)."""
    from es_rag.engine.security.passwords import hash_password

    config = data_dir / "config"
    config.mkdir(parents=True, exist_ok=True)
    stored = hash_password(TEST_CLUSTER_PASSWORD)
    (config / "users").write_text("".join(f"{name}:{stored}\n" for name in TEST_CLUSTER_USERS))
    roles: dict[str, list[str]] = {}
    for name, role in TEST_CLUSTER_USERS.items():
        roles.setdefault(role, []).append(name)
    (config / "users_roles").write_text(
        "".join(f"{role}:{','.join(names)}\n" for role, names in roles.items()))
