-- Placeholder: the reviewers' schema (issue 7) goes here.
SELECT 1;

---- create above / drop below ----
SELECT 1;
