package db

import "context"

// EmailOwner returns the API client that stored email id (client_id, kept
// on a tombstone too). Errors: apperr NotFound when there is no such email;
// others name "get email owner".
func (q *Queries) EmailOwner(ctx context.Context, id int64) (string, error) {
	owner, err := q.g.GetEmailOwner(ctx, id)
	if err != nil {
		return "", found("get email owner", err, "email", id)
	}
	return owner, nil
}
