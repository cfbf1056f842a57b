import time, subprocess, requests, pytest, os, signal
from tests.gateway.test_live import user_with_key, openai_key
from tests.live_servers import fake_provider_process, service_process
pytestmark = [pytest.mark.real_http, pytest.mark.django_db(transaction=True)]

def test_probe(settings):
    with fake_provider_process(delay=0.0) as upstream:
        settings.BYOK_BASE_URL_OVERRIDES = {"openai": upstream}
        _, token = user_with_key("crowd", openai_key("crowd1"))
        with service_process({"BYOK_OPENAI_BASE_URL": upstream}, workers=1) as service:
            s = requests.Session()
            def call():
                r = s.post(f"{service}/v1/chat/completions", json={"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}, headers={"Authorization": f"Bearer {token}"}, timeout=30)
                assert r.status_code == 200
            for _ in range(20): call()
            pids = subprocess.run(["pgrep", "-f", "gunicorn: worker|config.asgi"], capture_output=True, text=True).stdout.split()
            worker = max(int(p) for p in pids)
            spy = subprocess.Popen([".venv/bin/py-spy", "record", "-p", str(worker), "-o", "/tmp/spy.txt", "-f", "raw", "-r", "200"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
            t = time.monotonic()
            for _ in range(200): call()
            e = time.monotonic() - t
            spy.send_signal(signal.SIGINT); spy.wait(20)
            print("per call ms", e / 200 * 1000)
