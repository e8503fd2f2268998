package sdk

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
)

// envInt returns the integer value of the first of keys that is set, or def
// when none is set. An unparsable value is reported to the OpenTelemetry
// error handler and skipped.
func envInt(def int, keys ...string) int {
	for _, key := range keys {
		v, ok := os.LookupEnv(key)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			otel.Handle(fmt.Errorf("spanbridge: parse %s=%q: %w", key, v, err))
			continue
		}
		return n
	}
	return def
}
