package queue

import (
	"os"
	"strconv"
)

func init() {
	if s := os.Getenv("QSPINS"); s != "" {
		spins, _ = strconv.Atoi(s)
	}
}
