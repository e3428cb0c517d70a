-- POST /api/songs with a JSON body.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"artist": "Gregori Klosman", "title": "Jaws", "rating": 3}'
