-- Reserved for the witness branch's 015 (witness checks): this
-- placeholder exists only so tern's gapless numbering accepts 016 on this
-- branch. Delete it when that branch's 015 is merged.
SELECT 1;

---- create above / drop below ----
SELECT 1;
