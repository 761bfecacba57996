package queue_test

import (
	"os"
	"strconv"
)

func envInt(k string, d int) int {
	if s := os.Getenv(k); s != "" {
		n, _ := strconv.Atoi(s)
		return n
	}
	return d
}
