"""What a production client needs beyond the lesson: no exercise needs a learner to read it."""
