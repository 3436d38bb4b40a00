"""`sclzonal rules`: list the verdict rules and change a rule's classes and thresholds."""

from __future__ import annotations

import click

from sclzonal.cli.support import ready_connection

SHARE = click.FloatRange(0, 1)


def _describe(rule: object) -> str:
    from sclzonal.rules import Rule

    assert isinstance(rule, Rule)
    classes = ",".join(map(str, rule.classes))
    state = "" if rule.enabled else "  (disabled)"
    return (f"{rule.label}: classes {classes}, min share {rule.min_share:g}, min clear share "
            f"{rule.min_clear_share:g}, min coverage {rule.min_coverage:g}, priority {rule.priority}, "
            f"revision {rule.revision}{state}")


@click.group("rules")
def rules() -> None:
    """List the verdict rules (sclzonal.verdict_rule) and change their classes and thresholds.

    \b
    Examples:
      sclzonal rules list
      sclzonal rules set vegetation --min-share 0.7 --min-coverage 0.8
    """


@rules.command("list")
@click.pass_context
def list_command(ctx: click.Context) -> None:
    """Print every verdict rule, in the order verdicts consult them (priority, then id).

    \b
    Examples:
      sclzonal rules list
    """
    from sclzonal.rules import list_rules

    with ready_connection(ctx) as conn:
        found = list_rules(conn)
    for rule in found:
        click.echo(_describe(rule))
    if not found:
        click.echo("no verdict rules")


@rules.command("set")
@click.argument("label")
@click.option("--min-share", type=SHARE, metavar="0-1",
              help="Share of the clear pixels the rule's classes must make for the rule to hold.")
@click.option("--min-clear-share", type=SHARE, metavar="0-1",
              help="Share of the polygon's pixels that must be clear for the rule to be evaluated.")
@click.option("--min-coverage", type=SHARE, metavar="0-1",
              help="Coverage (observed / expected pixels) below which an observation is partially "
                   "observed for this rule.")
@click.option("--classes", metavar="N[,N...]", help="The rule's SCL classes, e.g. 4 or 4,5.")
@click.option("--priority", type=int,
              help="Order among the rules holding on one observation (lowest wins).")
@click.option("--enable/--disable", "enabled", default=None, help="Switch the rule on or off.")
@click.pass_context
def set_command(ctx: click.Context, label: str, min_share: float | None, min_clear_share: float | None,
                min_coverage: float | None, classes: str | None, priority: int | None,
                enabled: bool | None) -> None:
    """Change the classes or thresholds of the rule LABEL; `sclzonal refresh` then applies it.

    Options not given keep their values. The rule's revision goes up and the old one stays in
    sclzonal.verdict_rule_revision, so verdicts made before can still be explained; the next
    refresh decides every polygon's verdict again (no recount).

    \b
    Examples:
      sclzonal rules set vegetation --min-share 0.7
      sclzonal rules set vegetation --min-coverage 0.8 --min-clear-share 0.6
      sclzonal rules set vegetation --classes 4,5
      sclzonal rules set water --disable
    """
    from sclzonal.rules import RuleChange, change_rule, parse_classes

    change = RuleChange(classes=parse_classes(classes) if classes is not None else None,
                        min_share=min_share, min_clear_share=min_clear_share,
                        min_coverage=min_coverage, priority=priority, enabled=enabled)
    with ready_connection(ctx) as conn:
        before, after = change_rule(conn, label, change)
    if after == before:
        click.echo(f"unchanged: {_describe(after)}")
        return
    click.echo(f"changed: {_describe(after)} (was revision {before.revision}); run `sclzonal refresh` "
               "to decide the verdicts again")
