package retry

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// budgetSlots is how many slots a Budget's window is cut into: a deposit or
// a spend leaves the window between window*(1-1/budgetSlots) and window
// after it was made.
const budgetSlots = 10

// Budget is a retry budget shared by many calls, in the style of Finagle's
// RetryBudget: over a sliding window, the retries spent may not pass ratio
// times the requests made plus a floor of minPerSecond retries per second.
// Pass it to every call that draws from it with [WithBudget]; retryhttp's
// Transport, the guard package (retries and hedged copies) and jsqueue's
// Serve take the same value.
//
// What it bounds: in a total outage, where every attempt fails, a call
// with n attempts would send n times the dependency's normal traffic; with
// a budget, retries stop at ratio per request (plus the floor), so the
// traffic is at most (1 + ratio + minPerSecond/rate) times normal, whatever
// n is. When few calls fail, the budget is never the bound: at a failure
// rate f, retries need about f/(1-f) per request, well under a ratio of 0.2
// for f = 10%.
//
//   - First attempts always go: each one deposits ([Budget.Deposit]).
//   - Each retry spends one ([Budget.TrySpend]); when the window holds
//     nothing to spend, the retry is refused and the call ends with an
//     error matching [ErrBudgetExhausted] (and [ErrExhausted]) that carries
//     the last attempt's error.
//
// Why Finagle's budget and not gRPC's retry throttling (proposal A6, a
// token bucket where every failure costs one token and every success
// refills a fraction of one): A6 charges first attempts that fail, so a
// steady failure rate near its refill ratio drains the bucket and refuses
// retries even though retrying is what turns those failures into
// successes; its bound in an outage is a count of tokens, not a ratio of
// traffic; and a client with little traffic has too few successes to
// refill it. Finagle's budget states its bound in the unit an operator
// reasons in (retries per request), leaves a low failure rate untouched,
// and its floor keeps a quiet client able to retry.
//
// Create one with [NewBudget]; the zero value is not usable. A Budget is
// safe for concurrent use, starts no goroutine and needs no closing.
// Deposit reads no clock and takes no lock (two atomic operations), so a
// first-try success stays free of clock reads; TrySpend, on the retry
// path, takes a short lock and reads the clock once.
type Budget struct {
	ratio   float64 // retries allowed per deposit
	reserve float64 // the floor: minPerSecond times the window, in retries
	slot    time.Duration
	epoch   time.Time // slot numbers count from here (monotonic clock)

	// cur is the number of the slot deposits go to: the slot of the last
	// time the clock was read (by TrySpend or Stats). A deposit made later
	// is counted in that earlier slot and leaves the window early: the
	// budget errs on the side of refusing.
	cur      atomic.Int64
	deposits [budgetSlots]atomic.Int64 // by slot number modulo budgetSlots

	mu     sync.Mutex         // protects spends and last
	spends [budgetSlots]int64 // by slot number modulo budgetSlots
	last   int64              // the latest slot number seen

	spent, refused atomic.Uint64
}

// BudgetStats is a snapshot of a [Budget].
type BudgetStats struct {
	Spent   uint64  // retries allowed since the budget was made
	Refused uint64  // retries refused since the budget was made
	Balance float64 // retries the window allows now (the floor included); below 1, the next is refused
}

// NewBudget returns a budget that allows, over any window of the given
// length, ratio retries per first attempt plus minPerSecond retries per
// second. Finagle's defaults are NewBudget(0.2, 10, 10*time.Second); in an
// outage that lets a client send at most 1.2 times its traffic plus 10
// retries a second.
//
// It panics, with a message starting "retry: NewBudget" that names the
// argument, when ratio is outside (0, 1] or NaN, minPerSecond is negative,
// infinite or NaN, or window is not positive.
func NewBudget(ratio, minPerSecond float64, window time.Duration) *Budget {
	if !(ratio > 0 && ratio <= 1) {
		panic(fmt.Sprintf("retry: NewBudget(ratio %v): the ratio of retries to requests must be in (0, 1]", ratio))
	}
	if !(minPerSecond >= 0) || math.IsInf(minPerSecond, 1) {
		panic(fmt.Sprintf("retry: NewBudget(minPerSecond %v): the floor must be finite and at least 0", minPerSecond))
	}
	if window <= 0 {
		panic(fmt.Sprintf("retry: NewBudget(window %v): the window must be positive", window))
	}
	return &Budget{
		ratio:   ratio,
		reserve: minPerSecond * window.Seconds(),
		slot:    max(window/budgetSlots, 1),
		epoch:   time.Now(),
	}
}

// Deposit records a first attempt: it lets ratio more retries be spent in
// the window. [Do] calls it once per call made [WithBudget] (not for a call
// whose ctx was done before its first attempt); call it yourself only for
// work that draws on the budget outside Do.
func (b *Budget) Deposit() {
	b.deposits[b.cur.Load()%budgetSlots].Add(1)
}

// TrySpend asks for one retry (or one extra hedged copy): it reports
// whether the window allows it, and counts it as spent if so, as refused
// if not. [Do] calls it before each wait for a retry.
func (b *Budget) TrySpend() bool {
	b.mu.Lock()
	s := b.advance(time.Now())
	ok := b.balance() >= 1
	if ok {
		b.spends[s%budgetSlots]++
	}
	b.mu.Unlock()
	if ok {
		b.spent.Add(1)
	} else {
		b.refused.Add(1)
	}
	return ok
}

// Stats returns the budget's counters and its balance now.
func (b *Budget) Stats() BudgetStats {
	b.mu.Lock()
	b.advance(time.Now())
	bal := b.balance()
	b.mu.Unlock()
	return BudgetStats{Spent: b.spent.Load(), Refused: b.refused.Load(), Balance: bal}
}

// advance moves the window to now, clearing the slots that left it, and
// returns now's slot number. b.mu is held. A clock that reads earlier than
// the latest slot seen (a budget made outside a synctest bubble and used
// inside) leaves the window where it is.
func (b *Budget) advance(now time.Time) int64 {
	s := int64(now.Sub(b.epoch) / b.slot)
	if s <= b.last {
		return b.last
	}
	from := max(b.last+1, s-budgetSlots+1)
	for i := from; i <= s; i++ {
		b.deposits[i%budgetSlots].Store(0)
		b.spends[i%budgetSlots] = 0
	}
	b.last = s
	b.cur.Store(s)
	return s
}

// balance returns the retries the window allows now. b.mu is held.
func (b *Budget) balance() float64 {
	var deposits, spends int64
	for i := range budgetSlots {
		deposits += b.deposits[i].Load()
		spends += b.spends[i]
	}
	return b.reserve + b.ratio*float64(deposits) - float64(spends)
}
