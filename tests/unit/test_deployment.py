"""The production deployment's CPU weights (``docker-compose.yml``, ``deploy/host``). On 30 June
the cores are full: the core system's batches and the pushes run in instances of their own, and
PostgreSQL's backends book and claim for them. A member's read waits for a core at every step, so
the order when the cores are contended is: the members' instances, then the stores and the rest
(Docker's default weight), then the bulk work (README: the 30 June run)."""

from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
DEFAULT_SHARES = 1024  # Docker's, for a service that names none


def shares() -> dict[str, int]:
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    return {name: int(s.get("cpu_shares", DEFAULT_SHARES)) for name, s in services.items()}


def test_members_instances_outweigh_the_database_that_serves_the_bulk_work():
    weight = shares()
    assert min(weight["api1"], weight["api2"]) > max(weight["postgres"], weight["redis"])


def test_bulk_work_weighs_least():
    weight = shares()
    bulk = {"api-internal", "worker"}
    assert max(weight[name] for name in bulk) < min(
        w for name, w in weight.items() if name not in bulk
    )


def test_a_host_of_processes_weighs_them_one_by_one():
    """Without containers, autogroups would group the services by session again, and a nice would
    weigh within its session only (README: CPU priorities on the hall's host)."""
    conf = COMPOSE.parent / "deploy" / "host" / "60-gjj-cpu.conf"
    settings = dict(
        (part.strip() for part in line.split("=", 1))
        for line in conf.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    assert settings == {"kernel.sched_autogroup_enabled": "0"}
