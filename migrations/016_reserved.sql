-- Reserved (issue 25's branch): tern needs gapless numbers, and migrations
-- 015 (witness checks) and 016+ (audit partitions) are on other branches.
-- At the merge, delete this file where one of theirs takes its number; one
-- no one takes stays a no-op.
SELECT 1;

---- create above / drop below ----
SELECT 1;
