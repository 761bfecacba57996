package observe

// Debug: package inspect's debug mode found a problem (a task that
// ignores cancellation, a failure nobody read, an object collected
// without its Wait or Close, a slow task). Source "inspect"; Name (the
// task's or object's); Err (an *inspect.Problem, with the stack that made
// the object and, where it applies, the stack of the goroutine at fault).
//
// It sits outside the list above, in a file of its own, until the list
// takes it in; its String is then "inspect.debug".
const Debug Kind = 64
