package runtime

func one() {
	if finalizerIdleGC != nil {
		task.MarkFinishing()
	}
}

func two() {
	if finalizerIdleGC != nil {
		task.MarkFinishing()
	}
}

func three() {
	if finalizerIdleGC != nil {
		task.MarkFinishing()
	}
}
