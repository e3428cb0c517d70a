% rebase('base', title='Add a song')
<h1>Add a song</h1>
% if errors:
<p class="error" role="alert">The song was not added: correct what is marked below.</p>
% end
<form method="post" action="/songs" class="song">
  <input type="hidden" name="csrf_token" value="{{csrf()}}">
% include('song_fields')
  <div class="buttons">
    <button type="submit">Add the song</button>
    <button type="submit" name="then" value="another">Add it, then another</button>
  </div>
</form>
