"""The commands that read policy files without serving them: ``validate`` (each file checked, as ``run``
loads it), ``schema`` (the policy's JSON Schema), ``explain`` (which route a request takes, and why:
``explain``) and ``diff`` (what a policy change changes, for logged requests too: ``diff``). ``cli`` parses
their arguments and calls them; each returns the command's exit code (``exit_codes``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import orjson

from .credentials import app_key
from .exit_codes import EXIT_INVALID, EXIT_OK, EXIT_USAGE
from .policy.compiled import PolicyError
from .policy.load import load_policy
from .request_facts import RequestProblem, describe_request


def cmd_schema(args: argparse.Namespace) -> int:
    from .policy.schema import policy_json_schema

    sys.stdout.write(policy_json_schema())
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
        try:
            policy = load_policy(path)
        except PolicyError as exc:
            failed += 1
            for error in exc.errors:
                print(f"{path}: {error}")
            continue
        for warning in policy.warnings:
            print(f"{path}: warning: {warning}")
        sizes = ((len(policy.providers), "provider"), (len(policy.models), "model"), (len(policy.routes), "route"))
        print(f"{path}: ok (version {policy.version}, {', '.join(_counted(n, noun) for n, noun in sizes)})")
    if failed:
        print(f"{failed} of {len(args.files)} policies invalid", file=sys.stderr)
    return EXIT_INVALID if failed else EXIT_OK


def _counted(count: int, noun: str) -> str:
    """``1 route``, ``5 routes``, ``0 routes``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def cmd_explain(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(args.policy)
    except PolicyError as exc:
        for error in exc.errors:
            print(f"{args.policy}: {error}", file=sys.stderr)
        return EXIT_INVALID
    try:
        raw = sys.stdin.buffer.read() if args.request == "-" else Path(args.request).read_bytes()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"the request is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ValueError("the request must be a JSON object")
        headers = {}
        for header in args.header:
            name, sep, value = header.partition(":")
            if not sep:
                raise ValueError(f"header {header!r} is not 'name: value'")
            headers[name.strip().lower()] = value.strip()
    except (OSError, ValueError) as exc:  # a file unread in validate's words, not Python's ``[Errno 2] ...``
        why = f"cannot read {args.request}: {exc.strerror or exc}" if isinstance(exc, OSError) else exc
        print(f"llm-sidecar explain: {why}", file=sys.stderr)
        return EXIT_USAGE
    query = dict(parse_qsl(urlsplit(args.path).query))
    try:
        request = describe_request(args.path, headers, query, body, app=args.app)
    except RequestProblem as problem:
        said = policy.passthrough.explain("POST", args.path, headers) if policy.passthrough else None
        if said:
            print(said)
            return EXIT_OK
        print(f"llm-sidecar explain: the sidecar answers {problem.status}: {problem.message}", file=sys.stderr)
        return EXIT_USAGE
    from .explain import explain_report, explain_text  # here: ``run`` does not load it (start time)

    report = explain_report(policy, request, app_key(headers, query))
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    else:
        print(explain_text(report))
    return EXIT_OK if report["route"] else EXIT_INVALID


def cmd_diff(args: argparse.Namespace) -> int:
    from .diff import diff_policies, json_report, replay, text_report

    policies = []
    for path in (args.old, args.new):
        try:
            policies.append(load_policy(path))
        except PolicyError as exc:
            for error in exc.errors:
                print(f"{path}: {error}", file=sys.stderr)
    if len(policies) != 2:
        return EXIT_INVALID
    old, new = policies
    replayed = None
    if args.replay:
        try:
            if args.replay == "-":
                replayed = replay(old, new, sys.stdin.buffer, app=args.app)
            else:
                with open(args.replay, "rb") as log:
                    replayed = replay(old, new, log, app=args.app)
        except OSError as exc:
            print(f"llm-sidecar diff: cannot read {args.replay}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
    changes = diff_policies(old, new)
    if args.json:
        report = json_report(old, new, changes, replayed, args.replay or "")
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    else:
        print(text_report(old, new, changes, replayed, args.replay or ""))
    return EXIT_OK
