package memo_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/memo"
)

// The model: what a cache with a TTL, a max of entries and no error caching
// must hold after any sequence of Get, Forget and the passing of time.
const (
	modelTTL = 10 * time.Second
	modelMax = 3
	modelKey = 4 // keys k0..k3: more than modelMax, so evictions happen
)

type modelEntry struct {
	val     string
	expires time.Time
	used    int // the tick of the last store or hit; the lowest is evicted
}

var errModel = errors.New("every third load of a key fails")

// runModel decodes ops (one byte each) and checks every Get's result, and
// the counters, against a map. It runs in a synctest bubble, so sleeps are
// exact and the TTL boundary (now == expires: expired) is hit.
func runModel(t *testing.T, ops []byte) {
	synctest.Test(t, func(t *testing.T) {
		versions := map[string]int{}
		c := memo.New(func(ctx context.Context, k string) (string, error) {
			versions[k]++
			if versions[k]%3 == 0 {
				return "", errModel
			}
			return fmt.Sprintf("%s-v%d", k, versions[k]), nil
		}, memo.WithTTL(modelTTL), memo.WithMaxEntries(modelMax))
		defer c.Close()

		model := map[string]*modelEntry{}
		tick, loads, hits, evictions := 0, uint64(0), uint64(0), uint64(0)
		modelVersions := map[string]int{}
		for i, op := range ops {
			key := fmt.Sprintf("k%d", (op>>2)%modelKey)
			switch op % 4 {
			case 0, 1:
				tick++
				now := time.Now()
				var want string
				var wantErr error
				if e := model[key]; e != nil && now.Before(e.expires) {
					hits++
					e.used = tick
					want = e.val
				} else {
					delete(model, key)
					loads++
					modelVersions[key]++
					if v := modelVersions[key]; v%3 == 0 {
						wantErr = errModel
					} else {
						want = fmt.Sprintf("%s-v%d", key, v)
						model[key] = &modelEntry{val: want, expires: now.Add(modelTTL), used: tick}
						if len(model) > modelMax {
							lru := ""
							for k, e := range model {
								if lru == "" || e.used < model[lru].used {
									lru = k
								}
							}
							delete(model, lru)
							evictions++
						}
					}
				}
				got, err := c.Get(context.Background(), key)
				if got != want || !errors.Is(err, wantErr) {
					t.Fatalf("op %d: Get(%q) = %q, %v; want %q, %v", i, key, got, err, want, wantErr)
				}
			case 2:
				delete(model, key)
				c.Forget(key)
			case 3:
				time.Sleep(time.Duration(op>>4) * modelTTL / 4) // 0 to 3.75 TTLs, in quarters
			}
		}
		s := c.Stats()
		if s.Hits != hits || s.Loads != loads || s.Misses != loads || s.Evictions != evictions || s.Entries != len(model) {
			t.Errorf("Stats() = %+v; want hits %d, loads and misses %d, evictions %d, entries %d",
				s, hits, loads, evictions, len(model))
		}
	})
}

func TestModel(t *testing.T) {
	t.Run("random sequences of Get, Forget and time match a map", func(t *testing.T) {
		for seed := range uint64(200) {
			r := rand.New(rand.NewPCG(seed, 20))
			ops := make([]byte, 300)
			for i := range ops {
				ops[i] = byte(r.UintN(256))
			}
			runModel(t, ops)
			if t.Failed() {
				t.Fatalf("seed %d failed", seed)
			}
		}
	})
}

func FuzzModel(f *testing.F) {
	f.Add([]byte{0, 0, 4, 8, 12, 0, 3 | 4<<4, 0, 2, 0})
	f.Add([]byte{0, 1, 0, 1, 0, 1, 0, 1, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		runModel(t, ops)
	})
}
