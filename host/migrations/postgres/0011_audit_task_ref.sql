-- 0011: a task's audit entries found by index. Archiving a closed task's trail
-- looked for its id inside every entry's detail (a scan of the whole log per
-- task); the id an entry names (`detail.task_id`) is now a column of its own, and
-- subjects are indexed. Entries written before this migration get theirs here
-- (every detail the host wrote is a JSON object).
ALTER TABLE audit ADD COLUMN task_ref TEXT;
UPDATE audit SET task_ref = detail::jsonb ->> 'task_id'
 WHERE detail LIKE '%"task_id"%' AND jsonb_typeof(detail::jsonb -> 'task_id') = 'string';
CREATE INDEX audit_subject ON audit (subject);
CREATE INDEX audit_task_ref ON audit (task_ref);
