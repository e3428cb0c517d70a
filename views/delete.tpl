% rebase('base', title='Delete ' + song['title'])
<h1>Delete “{{song['title']}}”?</h1>
% if get('changed'):
<p class="error" role="alert">Someone changed this song after you opened this page, so it was not deleted. Here it is as it is now.</p>
% end
<p>“{{song['title']}}” by {{song['artist']}}, rated {{song['rating']}} of 5, will be deleted.
% if history_days:
Its history keeps it for {{history_days}} day{{'' if history_days == 1 else 's'}}, during which it can be brought back (<code>POST /api/song/{{song['id']}}/restore</code>).</p>
% else:
Its history keeps it, and it can be brought back (<code>POST /api/song/{{song['id']}}/restore</code>).</p>
% end
<form method="post" action="/songs/{{song['id']}}/delete" class="inline">
  <input type="hidden" name="csrf_token" value="{{csrf()}}">
  <input type="hidden" name="etag" value="{{etag}}">
  <button type="submit" class="danger">Delete the song</button>
</form>
<a href="/songs/{{song['id']}}">Cancel</a>
