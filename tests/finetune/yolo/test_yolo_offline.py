"""Ultralytics offline setup: no DNS, no font request, no pip, user-global settings untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from _yolo_fixtures import no_network, wood_home  # noqa: F401 - pytest fixtures


def test_font_online_and_pip_paths_make_no_network_attempt(no_network, wood_home):  # noqa: F811
    from wood.offline import setup_ultralytics

    setup_ultralytics()
    import ultralytics.utils as uu
    from ultralytics.utils import checks

    assert uu.is_online() is False
    font = checks.check_font("Arial.ttf")
    assert Path(font).is_file() and Path(font).parent == wood_home / "ultralytics" / "Ultralytics"
    assert Path(checks.check_font("Arial.Unicode.ttf")).is_file()
    # A missing requirement: with AUTOINSTALL off Ultralytics only warns; no pip, no network.
    assert checks.check_requirements("wood-surely-not-installed-pkg>=1", install=True) is False
    assert uu.SETTINGS["sync"] is False
    assert no_network == []


def test_fresh_process_leaves_user_settings_alone_and_never_touches_the_network(tmp_path: Path):
    """Import Ultralytics through wood in a clean process whose DNS and sockets raise."""
    home = tmp_path / "home"
    user_settings = home / ".config" / "Ultralytics" / "settings.json"
    user_settings.parent.mkdir(parents=True)
    original = json.dumps({"sync": True, "datasets_dir": "/elsewhere", "weights_dir": "/w"})
    user_settings.write_text(original)
    script = textwrap.dedent(
        """
        import socket, sys
        def refuse(*a, **k):
            raise SystemExit(f"NETWORK ATTEMPT {a[:2]}")
        socket.getaddrinfo = socket.gethostbyname = socket.create_connection = refuse
        socket.socket.connect = refuse
        from wood.offline import setup_ultralytics
        setup_ultralytics()
        import ultralytics.utils as uu
        from ultralytics.utils import checks
        assert uu.ONLINE is False and checks.AUTOINSTALL is False
        assert str(uu.USER_CONFIG_DIR).startswith(sys.argv[1]), uu.USER_CONFIG_DIR
        assert uu.SETTINGS["sync"] is False and uu.SETTINGS["mlflow"] is False
        checks.check_font("Arial.ttf")
        print("OK")
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YOLO_", "WOOD_", "XDG_"))}
    env.update(HOME=str(home), WOOD_HOME=str(tmp_path / "wood"))
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "wood")], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and proc.stdout.strip().endswith("OK"), proc.stdout + proc.stderr
    assert user_settings.read_text() == original
    assert (tmp_path / "wood" / "ultralytics" / "Ultralytics" / "Arial.ttf").is_file()
