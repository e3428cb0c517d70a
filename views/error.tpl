% rebase('base', title=problem['title'])
<h1>{{problem['status']}} {{problem['title']}}</h1>
<p>{{problem['detail']}}</p>
<p><a href="/">Back to the songs</a></p>
<p class="small">Request id: <code>{{problem['request_id']}}</code></p>
