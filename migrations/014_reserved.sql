-- Reserved for the key-rings branch's 014 (checkpoints gain a key id): this
-- placeholder exists only so tern's gapless numbering accepts 016 on this
-- branch. Delete it when that branch's 014 is merged.
SELECT 1;

---- create above / drop below ----
SELECT 1;
