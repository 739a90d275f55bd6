"""The `/v1` resource routes: orders, returns, customers and promotions across the estate."""
