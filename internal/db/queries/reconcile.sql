-- name: LatestReport :one
SELECT * FROM reconciliation_reports ORDER BY id DESC LIMIT 1;
