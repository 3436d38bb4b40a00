-- Every revision of every verdict rule is kept in sclzonal.verdict_rule_revision.
--
-- An edit of a rule (from `psql`, QGIS or any client) that changes what it decides (label,
-- classes, thresholds, priority, enabled) takes the next revision number, whatever the edit
-- itself wrote into `revision`; an edit that changes nothing keeps it. A new rule starts at
-- revision 1. The rule's row after each insert or edit is recorded; deleting a rule keeps its
-- revisions. polygon_verdict names the revision a verdict was made under, so a verdict made
-- before a rule changed can still be explained.

CREATE OR REPLACE FUNCTION sclzonal.bump_verdict_rule_revision() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.revision := 1;
    ELSIF (NEW.label, NEW.classes, NEW.min_share, NEW.min_clear_share, NEW.min_coverage,
           NEW.priority, NEW.enabled)
          IS DISTINCT FROM (OLD.label, OLD.classes, OLD.min_share, OLD.min_clear_share,
                            OLD.min_coverage, OLD.priority, OLD.enabled)
          OR NEW.id <> OLD.id THEN
        NEW.revision := OLD.revision + 1;
    ELSE
        NEW.revision := OLD.revision;
    END IF;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS verdict_rule_revision_bumped ON sclzonal.verdict_rule;
CREATE TRIGGER verdict_rule_revision_bumped
    BEFORE INSERT OR UPDATE ON sclzonal.verdict_rule
    FOR EACH ROW
    EXECUTE FUNCTION sclzonal.bump_verdict_rule_revision();

CREATE OR REPLACE FUNCTION sclzonal.record_verdict_rule_revision() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sclzonal.verdict_rule_revision (rule_id, revision, label, classes, min_share,
                                                min_clear_share, min_coverage, priority, enabled)
    VALUES (NEW.id, NEW.revision, NEW.label, NEW.classes, NEW.min_share, NEW.min_clear_share,
            NEW.min_coverage, NEW.priority, NEW.enabled)
    ON CONFLICT (rule_id, revision) DO NOTHING;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS verdict_rule_revision_recorded ON sclzonal.verdict_rule;
CREATE TRIGGER verdict_rule_revision_recorded
    AFTER INSERT OR UPDATE ON sclzonal.verdict_rule
    FOR EACH ROW
    EXECUTE FUNCTION sclzonal.record_verdict_rule_revision();
