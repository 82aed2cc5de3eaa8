-- Per rule: its incidents, how many are closed and with which disposition
-- (`soc-platform rules stats`, the noisy-rules check).
SELECT rule,
       count(*) AS incidents,
       count(*) FILTER (WHERE status IN ('resolved', 'false_positive')) AS closed,
       count(*) FILTER (WHERE disposition = 'true_positive') AS true_positive,
       count(*) FILTER (WHERE disposition = 'false_positive') AS false_positive,
       count(*) FILTER (WHERE disposition = 'benign') AS benign
FROM incidents
GROUP BY rule
ORDER BY rule
