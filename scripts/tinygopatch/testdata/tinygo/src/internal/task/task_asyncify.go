package task

import "unsafe"

func start(stackSize uintptr) {
	// Create a stack.
	stack := runtime_alloc(stackSize, nil)
	_ = stack
}

// currentTask is the current running task, or nil.
var currentTask *Task

func (t *Task) finish() {
	if t.state.finishing {
		t.state.finishing = false
		t.clearStack()
		t.state.args = nil
	}
}
