#!/usr/bin/env python3
"""Lists the integration tests (tests/tests/*.rs) that touch the database only as the
cluster's superuser: tests that open a test database or the cluster, and neither run the
loader (`loader_command`, `mock_run_in_process`: an etl_writer login) nor connect as any
other login (the TestDb login pools and URLs, a role of their own). A static reading: a
test counts a helper of its own file that it calls (transitively) as part of itself.
Usage: python3 scripts/superuser-only-tests.py [--list] [tests-dir]"""
import re
import sys
from pathlib import Path

TOUCHES = re.compile(r"TestDb::|admin_url\(|WESTON_TEST_CRON_URL|clone_database\(|data_fingerprint\(")
AS_A_LOGIN = r"_pool\(\)|\.url_for\(|\.loader_url\(|\bLOGIN\b|\.username\(|\blogin\(|_login\("
# The loader's calls, where the harness runs them as its login (tests/src/lib.rs `loader_url`;
# before it, they ran as the superuser).
LOADER_CALLS = r"|\bloader_command\(|mock_run_in_process\("


def functions(text):
    """name -> (is_test, body) of every fn of a file (top level or in a module)."""
    out = {}
    for m in re.finditer(r"((?:#\[[^\]]*\]\s*)*)(?:pub\s+)?(?:async\s+)?fn\s+(\w+)[^{;]*\{", text):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        out[m.group(2)] = (re.search(r"#\[(tokio::)?test\b", m.group(1)) is not None, text[m.end():i])
    return out


def main():
    args = [a for a in sys.argv[1:] if a != "--list"]
    tests_dir = Path(args[0] if args else Path(__file__).parent.parent / "tests" / "tests")
    harness = (tests_dir.parent / "src" / "lib.rs").read_text()
    as_a_login = re.compile(AS_A_LOGIN + (LOADER_CALLS if "fn loader_url" in harness else ""))
    total = touching = superuser_only = 0
    for path in sorted(tests_dir.glob("*.rs")):
        fns = functions(path.read_text())

        def closure(name, seen):
            if name in seen:
                return ""
            seen.add(name)
            body = fns[name][1]
            called = set(re.findall(r"\b(\w+)\s*\(", body)) & set(fns)
            return body + "".join(closure(c, seen) for c in called)

        for name, (is_test, _) in fns.items():
            if not is_test:
                continue
            total += 1
            body = closure(name, set())
            if not TOUCHES.search(body):
                continue
            touching += 1
            if not as_a_login.search(body):
                superuser_only += 1
                if "--list" in sys.argv:
                    print(f"{path.stem}::{name}")
    print(f"{superuser_only} of {total} tests touch the database only as the superuser "
          f"({touching} touch it)")


main()
