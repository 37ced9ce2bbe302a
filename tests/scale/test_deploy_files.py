"""deploy/ is not run by the tests; its compose file must at least parse and name what docs/deploy.md says."""
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_compose_file_parses_and_has_the_documented_services():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"mongo1", "mongo2", "mongo3", "mongo-init", "rasa", "bot", "proxy"} <= set(services)
    uri = services["bot"]["environment"]["MONGODB_URI"]
    assert "replicaSet=rs0" in uri and "w=majority" in uri
    for name in ("mongo-init.js", "nginx.conf", "Dockerfile", "Dockerfile.rasa"):
        assert (DEPLOY / name).is_file()
