//go:build !js

package signal

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// fetchID asks the server for a fresh id (GET u) through hc, or
// http.DefaultClient when hc is nil.
func fetchID(ctx context.Context, hc HTTPClient, u string) (string, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("signal fetch id: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("signal fetch id: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIDLen+1))
	if err != nil {
		return "", fmt.Errorf("signal fetch id: %w", err)
	}
	return fetchedID(resp.StatusCode == http.StatusOK, resp.Status, body)
}
